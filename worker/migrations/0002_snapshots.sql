-- Per-user data of published versions whose manifest says per_user "d1" (large catalogues): a
-- user's rated movies and train history, written by `npm run publish` before the version is
-- served, and read in the same round trip as the user's live ratings. See
-- training/src/contract/user-snapshots.ts for the BLOB layout. A snapshot over 32 KiB spans
-- several parts. Publishing keeps the rows of the served version and of the one before it.
CREATE TABLE snapshots (
  version TEXT NOT NULL,
  user_id INTEGER NOT NULL,
  part INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (version, user_id, part)
);
