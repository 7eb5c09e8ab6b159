// Applies worker/migrations to the local D1 before each test file (already-applied ones are
// skipped), as `wrangler d1 migrations apply` does for wrangler dev and deploys.
import { applyD1Migrations, env } from "cloudflare:test";

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
