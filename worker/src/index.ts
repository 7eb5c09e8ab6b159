// Cloudflare Worker entry point: GET /users/:id/recs and friends (see app.ts).
import { app } from "./app.ts";

export default app;
