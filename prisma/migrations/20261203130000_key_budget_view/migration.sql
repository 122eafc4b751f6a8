-- Chat and asset enforce a key's own spending limit, but api_keys (with its hashes) belongs to auth: they read
-- this view, which shows nothing but the limit, and are granted the view, never the table.
CREATE VIEW "api_key_budgets" AS SELECT "id", "user_id", "budget_usd" FROM "api_keys";
