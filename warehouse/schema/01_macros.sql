-- Rules every model shares, defined once as macros (the features, the backtest outcomes and
-- the report all call them; change a rule here and every reader follows).

-- A return: a cancellation invoice ('C...' in most sources; see the mapping's rule) or any
-- negative quantity (a stock adjustment keyed to a customer). Every other line is a
-- purchase, free items included.
create or replace macro is_return_line(is_cancellation, quantity) as
    (is_cancellation or quantity < 0);
