-- Rules of the typed rows of a load, defined once as macros (segments/ingest/casting.py calls
-- them per mapping; warehouse/load/*.sql use them to stage).

-- The default cancellation rule (mappings can set `cancellation:` instead): an invoice id
-- that starts with the prefix, in any case ('C536365' in UCI Online Retail).
create or replace macro invoice_is_cancellation(invoice_id, prefix) as
    starts_with(upper(invoice_id), upper(prefix));

-- A transaction line whose quantity cannot be what it says: the first problem's code, or NULL.
-- Returns stay as negative lines on cancellation invoices; a negative line elsewhere is a
-- stock adjustment, and a positive line on a cancellation contradicts it.
create or replace macro transaction_line_problem(quantity, is_cancellation) as
    case
        when quantity = 0 then 'zero_quantity'
        when quantity < 0 and not is_cancellation then 'negative_quantity_not_cancellation'
        when quantity > 0 and is_cancellation then 'cancellation_positive_quantity'
    end;

-- The readable reason of each code above (ops.quarantine.reason).
create or replace macro transaction_line_problem_reason(code) as
    case code
        when 'zero_quantity' then 'quantity is 0: the line moves nothing'
        when 'negative_quantity_not_cancellation'
            then 'negative quantity on a line that is not a cancellation (a stock adjustment)'
        when 'cancellation_positive_quantity' then 'a cancellation line with a positive quantity'
    end;

-- Signed revenue of a line (returns negative, so net revenue sums correctly), to 4 places.
create or replace macro line_revenue(quantity, unit_price) as
    round(quantity * unit_price, 4);

-- A campaign feedback line that cannot be: a conversion before the message that caused it.
create or replace macro campaign_line_problem(sent_at, converted_at) as
    case when converted_at < sent_at then 'converted_before_sent' end;

create or replace macro campaign_line_problem_reason(code) as
    case code
        when 'converted_before_sent'
            then 'converted_at is before sent_at: a response cannot precede its campaign'
    end;
