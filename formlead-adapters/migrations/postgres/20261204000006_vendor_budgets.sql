-- Vendor budgets shared by every process on this database: a vendor's rate
-- limit belongs to the account (a HubSpot app, a Gmail mailbox), so every
-- `serve` and `worker` process draws from one time line per budget (GCRA:
-- `tat` is the theoretical arrival time of the next call). A 429 from the
-- vendor pauses the budget for everyone until `paused_until`.
CREATE TABLE vendor_budgets (
    name         TEXT PRIMARY KEY,
    tat          TIMESTAMPTZ NOT NULL,
    paused_until TIMESTAMPTZ
);
