// The README stays short and every relative link in it and in docs/ leads somewhere: to a file
// that exists and, for #anchors, to a heading of that file (GitHub's anchors).
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { anchorsOf, brokenLinks, githubSlug, markdownFiles, relativeLinks } from "./markdown-links.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const README_MAX_LINES = 200;

describe("the link checker", () => {
  it("makes GitHub's anchors", () => {
    expect(githubSlug("The tutorial's table, honestly")).toBe("the-tutorials-table-honestly");
    expect(githubSlug("`npm run bench:cold`")).toBe("npm-run-benchcold");
    expect(githubSlug("Why D1: R2, KV and D1 measured")).toBe("why-d1-r2-kv-and-d1-measured");
    expect(githubSlug("Under load — faults & [hostile](x.md) input")).toBe("under-load--faults--hostile-input");
    expect([...anchorsOf("# A\n## A\n```\n# not a heading\n```\n### A b_c ###\n")]).toEqual(["a", "a-1", "a-b_c"]);
  });

  it("finds relative links outside code and reports the broken ones", () => {
    expect(relativeLinks('[a](x.md) ![i](img.png "t") [w](https://e.org) `[c](code.md)`\n```\n[d](fenced.md)\n```\n[r]: ref.md').map((l) => l.target)).toEqual([
      "x.md",
      "img.png",
      "ref.md",
    ]);
    const root = mkdtempSync(join(tmpdir(), "edgerec-links-"));
    mkdirSync(join(root, "docs"));
    writeFileSync(join(root, "docs", "a.md"), "# Title\n## Part two\n[ok](#part-two) [up](../README.md#top) [gone](b.md) [bad](#nope) [out](../../x.md)\n");
    writeFileSync(join(root, "README.md"), "# Top\n[a](docs/a.md#title)\n");
    expect(brokenLinks(root, "README.md")).toEqual([]);
    const problems = brokenLinks(root, join("docs", "a.md"));
    expect(problems).toHaveLength(3);
    expect(problems.join("\n")).toMatch(/b\.md: no such file/);
    expect(problems.join("\n")).toMatch(/#nope/);
    expect(problems.join("\n")).toMatch(/outside the repository/);
  });
});

describe("README.md and docs/", () => {
  const files = ["README.md", ...markdownFiles(ROOT, "docs")];

  it(`keeps README.md at most ${README_MAX_LINES} lines`, () => {
    const lines = readFileSync(join(ROOT, "README.md"), "utf8").split("\n").length - 1;
    expect(lines).toBeLessThanOrEqual(README_MAX_LINES);
  });

  it("has no broken relative link or anchor", () => {
    expect(files.length).toBeGreaterThan(1);
    expect(files.flatMap((f) => brokenLinks(ROOT, f))).toEqual([]);
  });

  it("reaches every docs/ file from the README through links", () => {
    const reached = new Set<string>(["README.md"]);
    const queue = ["README.md"];
    while (queue.length > 0) {
      const file = queue.shift()!;
      for (const { target } of relativeLinks(readFileSync(join(ROOT, file), "utf8"))) {
        const path = target.split("#")[0];
        if (!path.endsWith(".md")) continue;
        const linked = normalize(join(dirname(file), decodeURIComponent(path)));
        if (!reached.has(linked) && files.includes(linked)) {
          reached.add(linked);
          queue.push(linked);
        }
      }
    }
    expect(files.filter((f) => !reached.has(f))).toEqual([]);
  });
});
