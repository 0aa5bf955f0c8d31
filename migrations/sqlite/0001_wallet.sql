-- Wallet changesets (bdk_wallet::ChangeSet as serde_json), append-only.
-- A wallet's state is the in-order merge of all of its rows.
CREATE TABLE wallet_changesets (
    id         INTEGER PRIMARY KEY,
    wallet     TEXT    NOT NULL,
    changeset  TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX wallet_changesets_wallet ON wallet_changesets (wallet, id);
