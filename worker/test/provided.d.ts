// The fixture bundles global-setup.ts provides to the Workers tests.
import type { FixtureBundle } from "./fixture-types.ts";

declare module "vitest" {
  export interface ProvidedContext {
    bundles: FixtureBundle[];
  }
}
