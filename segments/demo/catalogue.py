"""Static ingredients of the demo data: personas, names, countries and product words.

Kept apart from the generator so the tuning knobs can be read (and argued about) in one place.
All values are plain tuples: their order is part of the seed-for-seed determinism.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Persona:
    """How one customer type buys and browses; rates are per year of activity."""

    name: str
    share: float  # fraction of customers
    invoices_per_year: float  # 0: never buys
    dispersion: float  # negative-binomial shape: smaller means a heavier tail
    basket_lines: float  # mean lines per invoice (geometric)
    quantity_scale: float  # median multiplier on pack sizes
    price_tilt: float  # exponent on unit price when picking products (>0: dearer goods)
    signup_from: tuple[float, float]  # (days, fraction of window) after the window start
    signup_to: tuple[float, float]
    active_until: float  # fraction of the window after which the customer stops buying
    age_mean: float
    income_scale: float
    sessions_per_year: float  # browsing sessions that end without a purchase
    channels: tuple[float, float, float, float]  # weights of CHANNELS
    one_purchase: bool = False


# Shares follow the brief; rates are tuned so the mix averages about 100 lines per customer
# (guest lines included) over a two-year window. `expected_lines_per_customer` recomputes it.
PERSONAS: tuple[Persona, ...] = (
    Persona(
        name="champion",
        share=0.05,
        invoices_per_year=16.0,
        dispersion=3.0,
        basket_lines=18.0,
        quantity_scale=2.0,
        price_tilt=0.3,
        signup_from=(-1000, 0.0),
        signup_to=(-30, 0.0),
        active_until=1.0,
        age_mean=42,
        income_scale=1.5,
        sessions_per_year=14.0,
        channels=(0.3, 0.5, 0.15, 0.05),
    ),
    Persona(
        name="loyal",
        share=0.15,
        invoices_per_year=7.0,
        dispersion=2.5,
        basket_lines=13.0,
        quantity_scale=1.3,
        price_tilt=0.0,
        signup_from=(-900, 0.0),
        signup_to=(0, 0.3),
        active_until=1.0,
        age_mean=50,
        income_scale=1.15,
        sessions_per_year=7.0,
        channels=(0.4, 0.3, 0.25, 0.05),
    ),
    Persona(
        name="big_ticket",
        share=0.1,
        invoices_per_year=2.0,
        dispersion=1.5,
        basket_lines=12.0,
        quantity_scale=4.0,
        price_tilt=0.8,
        signup_from=(-1000, 0.0),
        signup_to=(0, 0.7),
        active_until=1.0,
        age_mean=48,
        income_scale=1.8,
        sessions_per_year=3.0,
        channels=(0.6, 0.15, 0.1, 0.15),
    ),
    Persona(
        name="regular",
        share=0.2,
        invoices_per_year=4.0,
        dispersion=1.5,
        basket_lines=10.0,
        quantity_scale=1.0,
        price_tilt=0.0,
        signup_from=(-800, 0.0),
        signup_to=(0, 0.8),
        active_until=1.0,
        age_mean=40,
        income_scale=1.0,
        sessions_per_year=4.0,
        channels=(0.5, 0.25, 0.1, 0.15),
    ),
    Persona(
        name="new",
        share=0.1,
        invoices_per_year=14.0,
        dispersion=2.0,
        basket_lines=8.0,
        quantity_scale=1.0,
        price_tilt=0.0,
        signup_from=(-90, 1.0),
        signup_to=(0, 1.0),
        active_until=1.0,
        age_mean=31,
        income_scale=0.9,
        sessions_per_year=20.0,
        channels=(0.35, 0.25, 0.05, 0.35),
    ),
    Persona(
        name="lapsed",
        share=0.2,
        invoices_per_year=5.0,
        dispersion=1.5,
        basket_lines=10.0,
        quantity_scale=1.0,
        price_tilt=0.0,
        signup_from=(-700, 0.0),
        signup_to=(0, 0.3),
        active_until=0.5,
        age_mean=45,
        income_scale=0.95,
        sessions_per_year=3.0,
        channels=(0.5, 0.2, 0.15, 0.15),
    ),
    Persona(
        name="one_timer",
        share=0.1,
        invoices_per_year=0.0,
        dispersion=1.0,
        basket_lines=6.0,
        quantity_scale=1.0,
        price_tilt=-0.2,
        signup_from=(-300, 0.0),
        signup_to=(0, 1.0),
        active_until=1.0,
        age_mean=36,
        income_scale=0.85,
        sessions_per_year=1.5,
        channels=(0.5, 0.1, 0.05, 0.35),
        one_purchase=True,
    ),
    Persona(
        name="browser",
        share=0.05,
        invoices_per_year=0.0,
        dispersion=1.0,
        basket_lines=1.0,
        quantity_scale=1.0,
        price_tilt=0.0,
        signup_from=(-365, 0.0),
        signup_to=(0, 1.0),
        active_until=1.0,
        age_mean=29,
        income_scale=0.8,
        sessions_per_year=6.0,
        channels=(0.4, 0.3, 0.05, 0.25),
    ),
)

# Guest checkouts: no customer id, ordinary baskets, the whole window.
GUEST = Persona(
    name="guest",
    share=0.0,
    invoices_per_year=0.0,
    dispersion=1.0,
    basket_lines=12.0,
    quantity_scale=1.0,
    price_tilt=0.0,
    signup_from=(0, 0.0),
    signup_to=(0, 1.0),
    active_until=1.0,
    age_mean=40,
    income_scale=1.0,
    sessions_per_year=0.0,
    channels=(1.0, 0.0, 0.0, 0.0),
)

CHANNELS: tuple[str, ...] = ("web", "app", "email", "ads")
EVENT_TYPES: tuple[str, ...] = ("view", "cart", "purchase")

# fmt: off
# (the tables below are data: one row per line would only make them longer to read)

# UCI Online Retail's countries, United Kingdom dominant.
COUNTRIES: tuple[tuple[str, float], ...] = (
    ("United Kingdom", 0.86), ("Germany", 0.025), ("France", 0.022), ("EIRE", 0.02),
    ("Spain", 0.012), ("Netherlands", 0.01), ("Belgium", 0.009), ("Switzerland", 0.008),
    ("Portugal", 0.007), ("Australia", 0.006), ("Norway", 0.005), ("Italy", 0.006),
)

# Pack sizes people buy, with how often (UCI quantities cluster on these).
PACK_SIZES: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 10, 12, 24, 48)
PACK_WEIGHTS: tuple[float, ...] = (0.22, 0.15, 0.08, 0.12, 0.13, 0.05, 0.05, 0.12, 0.05, 0.03)

# Shop hours 07:00-20:59, busiest around midday.
SHOP_HOURS: tuple[int, ...] = tuple(range(7, 21))
SHOP_HOUR_WEIGHTS: tuple[float, ...] = (1, 3, 6, 9, 11, 12, 11, 10, 8, 6, 4, 3, 2, 1)
# Browsing, hours 00-23, peaks in the evening.
BROWSE_HOUR_WEIGHTS: tuple[float, ...] = (
    1, 1, 1, 1, 1, 1, 2, 4, 6, 6, 6, 7, 8, 7, 6, 6, 6, 7, 9, 11, 12, 10, 6, 3,
)

FEMALE_NAMES: tuple[str, ...] = (
    "Olivia", "Amelia", "Isla", "Ava", "Emily", "Sophie", "Grace", "Mia", "Poppy", "Ella",
    "Lily", "Evie", "Jessica", "Charlotte", "Hannah", "Chloe", "Lucy", "Sarah", "Emma", "Laura",
    "Rebecca", "Rachel", "Helen", "Claire", "Karen", "Susan", "Margaret", "Jane", "Alice", "Ruby",
)
MALE_NAMES: tuple[str, ...] = (
    "Oliver", "George", "Harry", "Jack", "Jacob", "Noah", "Charlie", "Thomas", "Oscar", "James",
    "William", "Leo", "Henry", "Joshua", "Daniel", "Samuel", "Benjamin", "Matthew", "David",
    "Paul", "Mark", "Andrew", "Richard", "Peter", "Michael", "Stephen", "Robert", "John", "Adam",
    "Liam",
)
LAST_NAMES: tuple[str, ...] = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
    "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards",
    "Hughes", "Green", "Hall", "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood",
    "Turner", "Martin", "Cooper", "Hill", "Ward", "Morris", "Moore", "Clark", "Lee", "King",
    "Baker", "Harrison", "Morgan", "Allen", "James", "Scott", "Phillips", "Watson", "Davis",
    "Parker", "Price", "Bennett", "Young", "Griffiths", "Mitchell", "Kelly", "Cook", "Carter",
    "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Murphy", "Khan", "Singh", "Ali",
)

# Product descriptions are COLOUR STYLE ITEM, in UCI's upper case; items carry a base price.
PRODUCT_COLOURS: tuple[str, ...] = (
    "WHITE", "RED", "PINK", "BLUE", "GREEN", "IVORY", "BLACK", "CREAM", "SILVER", "GOLD",
    "PASTEL", "ANTIQUE", "NATURAL", "ASSORTED", "VINTAGE",
)
PRODUCT_STYLES: tuple[str, ...] = (
    "HANGING HEART", "RETROSPOT", "REGENCY", "PAISLEY", "POLKADOT", "SPOTTY", "BIRD",
    "FLORAL", "STAR", "SKULL", "JAM MAKING", "SPACEBOY", "DOLLY GIRL", "ROSE", "LACE",
    "GINGHAM", "FOLK ART", "CHRISTMAS", "SWEETHEART", "BAROQUE",
)
PRODUCT_ITEMS: tuple[tuple[str, float], ...] = (
    ("T-LIGHT HOLDER", 2.95), ("LUNCH BAG", 1.65), ("CAKE STAND", 10.95), ("MUG", 1.25),
    ("TEA CUP AND SAUCER", 2.95), ("JUMBO BAG", 2.08), ("CANDLE", 1.45), ("PHOTO FRAME", 3.75),
    ("CUSHION COVER", 3.75), ("DOORMAT", 7.95), ("CLOCK", 8.50), ("LANTERN", 4.95),
    ("NAPKINS", 0.85), ("PAPER CHAIN KIT", 2.95), ("GIFT WRAP", 0.42), ("BUNTING", 4.95),
    ("CHALKBOARD", 4.25), ("STORAGE TIN", 3.25), ("HOT WATER BOTTLE", 4.65), ("MIRROR", 6.95),
    ("PURSE", 2.10), ("UMBRELLA", 5.95), ("WALL ART", 5.45), ("PLATE", 1.65), ("BOWL", 1.25),
    ("CHOPPING BOARD", 5.95), ("CAKE CASES", 0.55), ("APRON", 4.95), ("OVEN GLOVE", 2.95),
    ("WATER BOTTLE", 3.75), ("PENCIL CASE", 1.25), ("NOTEBOOK", 1.65), ("CHARM", 0.85),
    ("KEY RING", 0.65), ("HOOK", 1.25), ("SIGN", 2.55), ("DRAWER KNOB", 1.25),
    ("CHANDELIER", 24.95), ("CABINET", 39.95), ("TRAVEL CARD WALLET", 0.42),
)
# fmt: on
