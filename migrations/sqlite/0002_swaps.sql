-- The vault, swaps with their encrypted state history, peers and the hash-chained audit log.
-- Amounts are integers (satoshi, piconero); times are Unix seconds unless named *_ms.
-- Enums (role, network, phase) are stored as their variant names. Every `state`/`value`
-- BLOB is sealed by the vault (XChaCha20-Poly1305, bound to its row by the AEAD's
-- associated data); everything else is plaintext and holds no secret.

-- One row: the random data key wrapped with a key derived from the password (argon2id), and
-- the wallet secret sealed with the data key.
CREATE TABLE vault (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    kdf_memory_kib     INTEGER NOT NULL,
    kdf_iterations     INTEGER NOT NULL,
    kdf_parallelism    INTEGER NOT NULL,
    salt               BLOB    NOT NULL,
    wrapped_key        BLOB    NOT NULL,
    wallet_secret      BLOB    NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

-- One row per swap: a plaintext summary and the current state (the sealed blob of history
-- entry `state_seq`).
CREATE TABLE swaps (
    swap_id            TEXT    PRIMARY KEY NOT NULL CHECK (length(swap_id) = 64),
    role               TEXT    NOT NULL,
    peer               TEXT    NOT NULL,
    network            TEXT    NOT NULL,
    btc_sat            INTEGER NOT NULL CHECK (btc_sat >= 0),
    xmr_piconero       INTEGER NOT NULL CHECK (xmr_piconero >= 0),
    receive_address    TEXT,
    state_name         TEXT    NOT NULL,
    phase              TEXT    NOT NULL,
    state_seq          INTEGER NOT NULL,
    state              BLOB    NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX swaps_created ON swaps (created_at);
CREATE INDEX swaps_phase ON swaps (phase);

-- Every state a swap was saved in, in order (append-only).
CREATE TABLE swap_states (
    swap_id            TEXT    NOT NULL REFERENCES swaps (swap_id),
    seq                INTEGER NOT NULL CHECK (seq >= 0),
    state_name         TEXT    NOT NULL,
    phase              TEXT    NOT NULL,
    state              BLOB    NOT NULL,
    created_at         INTEGER NOT NULL,
    PRIMARY KEY (swap_id, seq)
);

-- Engine-side data of a swap (e.g. a prepared XMR transfer), sealed, upserted.
CREATE TABLE swap_data (
    swap_id            TEXT    NOT NULL REFERENCES swaps (swap_id),
    key                TEXT    NOT NULL,
    value              BLOB    NOT NULL,
    updated_at         INTEGER NOT NULL,
    PRIMARY KEY (swap_id, key)
);

-- Known peers (libp2p PeerId and multiaddresses as a JSON array of strings).
CREATE TABLE peers (
    peer_id            TEXT    PRIMARY KEY NOT NULL,
    addresses          TEXT    NOT NULL,
    last_seen          INTEGER NOT NULL
);

-- The audit log: plaintext evidence, each entry's hash covering the previous one's
-- (see crates/store/src/audit.rs for the exact encoding). AUTOINCREMENT keeps ids from being
-- reused, so a deleted tail shows up as a gap; UNIQUE (prev_hash) stops the chain forking.
CREATE TABLE audit_log (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms              INTEGER NOT NULL,
    swap_id            TEXT    CHECK (swap_id IS NULL OR length(swap_id) = 64),
    kind               TEXT    NOT NULL,
    detail             TEXT    NOT NULL,
    prev_hash          BLOB    NOT NULL UNIQUE CHECK (length(prev_hash) = 32),
    hash               BLOB    NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX audit_log_swap ON audit_log (swap_id, id);

-- The history and the audit log are append-only, enforced by the database.
CREATE TRIGGER swap_states_no_update BEFORE UPDATE ON swap_states
BEGIN
    SELECT RAISE(ABORT, 'swap_states is append-only');
END;
CREATE TRIGGER swap_states_no_delete BEFORE DELETE ON swap_states
BEGIN
    SELECT RAISE(ABORT, 'swap_states is append-only');
END;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
