// The relative links of markdown files and the anchors GitHub gives their headings, for the docs
// test. Small on purpose: the repository's docs use inline links, ATX headings and fenced code.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** The text outside fenced code blocks, with inline code spans blanked (links in code are not links). */
export function proseOf(markdown: string): string[] {
  const lines: string[] = [];
  let fence: string | null = null;
  for (const line of markdown.split("\n")) {
    const marker = /^\s*(```|~~~)/.exec(line)?.[1];
    if (marker && (fence === null || fence === marker)) {
      fence = fence === null ? marker : null;
      lines.push("");
    } else lines.push(fence === null ? line.replace(/`[^`]*`/g, "``") : "");
  }
  return lines;
}

/** GitHub's anchor for a heading's text (github-slugger: lower case, punctuation dropped, spaces to hyphens). */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // links and images keep their text
    .replace(/<[^>]+>/g, "") // inline HTML
    .replace(/[`*]/g, ""); // code and emphasis markers
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** The anchors of a markdown file's headings, with GitHub's -1, -2 for repeated ones. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fence: string | null = null;
  for (const line of markdown.split("\n")) {
    const marker = /^\s*(```|~~~)/.exec(line)?.[1];
    if (marker && (fence === null || fence === marker)) {
      fence = fence === null ? marker : null;
      continue;
    }
    const heading = fence === null ? /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line) : null;
    if (!heading) continue;
    const slug = githubSlug(heading[1]);
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

export interface Link {
  line: number;
  target: string;
}

/** The links and images of a markdown text that point inside the repository (no scheme, no protocol-relative URL). */
export function relativeLinks(markdown: string): Link[] {
  const links: Link[] = [];
  for (const [n, line] of proseOf(markdown).entries()) {
    const targets = [
      ...Array.from(line.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+["'(][^)]*)?\)/g), (m) => m[1]),
      ...Array.from(line.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/g), (m) => m[1]),
    ];
    for (const target of targets) if (!/^([a-z][a-z0-9+.-]*:|\/\/)/i.test(target)) links.push({ line: n + 1, target });
  }
  return links;
}

/** Problems with the relative links of `file` (a path under `root`): missing files, missing anchors, links out of the repository. */
export function brokenLinks(root: string, file: string): string[] {
  const problems: string[] = [];
  const text = readFileSync(join(root, file), "utf8");
  for (const { line, target } of relativeLinks(text)) {
    const where = `${file}:${line}: ${target}`;
    const hash = target.indexOf("#");
    const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
    const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
    const path = pathPart === "" ? join(root, file) : resolve(dirname(join(root, file)), pathPart);
    if (relative(root, path).startsWith("..")) {
      problems.push(`${where} points outside the repository`);
      continue;
    }
    if (!existsSync(path)) {
      problems.push(`${where}: no such file (${relative(root, path)})`);
      continue;
    }
    if (anchor === null) continue;
    if (statSync(path).isDirectory() || !path.endsWith(".md")) {
      problems.push(`${where}: an anchor into something that is not a markdown file`);
      continue;
    }
    if (!anchorsOf(readFileSync(path, "utf8")).has(anchor)) problems.push(`${where}: ${relative(root, path)} has no heading whose anchor is #${anchor}`);
  }
  return problems;
}

/** The markdown files under a folder of `root`, as paths relative to `root`. */
export function markdownFiles(root: string, folder: string): string[] {
  const dir = join(root, folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".md"))
    .map((f) => join(folder, f))
    .sort();
}
