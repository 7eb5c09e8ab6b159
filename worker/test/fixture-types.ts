/** A serving bundle as base64 strings, keyed by file name (made by global-setup.ts). */
export interface FixtureBundle {
  version: string;
  files: Record<string, string>;
}
