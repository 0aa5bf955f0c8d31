-- The Monero wallet (its primary address) a taker selling XMR proved its funds in, on the
-- maker's swaps as Bob: the maker's walk-away record and open-setup limits count by it as
-- well as by peer id, so a new libp2p identity does not start a clean record.
ALTER TABLE swaps ADD COLUMN counterparty_wallet TEXT;
