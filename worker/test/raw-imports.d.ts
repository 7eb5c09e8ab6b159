// Text files imported whole through Vite's `?raw` suffix (the README, by readme-examples.test.ts:
// workerd has no file system to read it from).
declare module "*.md?raw" {
  const text: string;
  export default text;
}
