// GET, PUT and DELETE /admin/experiment: the A/B experiment (docs/loop.md), kept in D1 so a
// change needs no deploy.
import { OpenAPIHono } from "@hono/zod-openapi";
import { deleteExperimentRoute, getExperimentRoute, putExperimentRoute } from "../api/loop-routes.ts";
import { tokenRequired } from "../auth.ts";
import { limitBody } from "../body-limit.ts";
import type { AppEnv } from "../env.ts";
import { checkExperiment, readExperiment, writeExperiment } from "../loop/experiment-store.ts";
import { cache, route } from "../middleware.ts";
import { requireJson, validationHook } from "../validation.ts";

const now = () => Math.floor(Date.now() / 1000);

export const experiment = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(
    ...route({ ...getExperimentRoute, middleware: [tokenRequired] as const }, [cache("private, no-store")], async (c) => {
      return c.json(await readExperiment(c.env.DB), 200);
    }),
  )
  .openapi(
    ...route({ ...putExperimentRoute, middleware: [tokenRequired, limitBody, requireJson] as const }, [cache("no-store")], async (c) => {
      const body = c.req.valid("json");
      await checkExperiment(c.env, body);
      return c.json(await writeExperiment(c.env, body, now()), 200);
    }),
  )
  .openapi(
    ...route({ ...deleteExperimentRoute, middleware: [tokenRequired] as const }, [cache("no-store")], async (c) => {
      return c.json(await writeExperiment(c.env, null, now()), 200);
    }),
  );
