// npm run report:check: opens artifacts/report/report.html in headless Chromium (Debian's
// package), takes a screenshot, and checks from the rendered DOM that every chart is an SVG
// with drawn marks. Needs `apt-get install chromium`; not part of CI (it is slow to install).
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import { REPORT_DIR, REPORT_FILES } from "../report/write.ts";
import { runCli } from "./options.ts";

const program = new Command("report:check")
  .description("Render artifacts/report/report.html in headless Chromium, screenshot it and assert the charts rendered.")
  .option("--artifacts <dir>", "artifacts folder", "artifacts")
  .option("--chromium <path>", "browser binary", "/usr/bin/chromium");
program.parse();
const o = program.opts<{ artifacts: string; chromium: string }>();

await runCli(async () => {
  const html = resolve(o.artifacts, REPORT_DIR, REPORT_FILES.html);
  if (!existsSync(html)) throw new Error(`${html} is missing: run \`npm run compare\` first`);
  if (!existsSync(o.chromium)) throw new Error(`${o.chromium} is missing: install Debian's chromium (apt-get install chromium) or pass --chromium`);
  const flags = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--user-data-dir=${mkdtempSync(join(tmpdir(), "edgerec-chromium-"))}`,
  ];
  const url = pathToFileURL(html).href;
  const dom = execFileSync(o.chromium, [...flags, "--dump-dom", url], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "ignore"] });
  const png = resolve(o.artifacts, REPORT_DIR, "report.png");
  execFileSync(o.chromium, [...flags, `--screenshot=${png}`, "--window-size=1200,3800", "--hide-scrollbars", url], { stdio: "ignore" });

  const figures = dom.split('<figure class="chart">').slice(1);
  const problems: string[] = [];
  if (figures.length < 6) problems.push(`expected 6 charts, found ${figures.length}`);
  figures.forEach((f, i) => {
    const svg = /<svg[\s\S]*?<\/svg>/.exec(f)?.[0] ?? "";
    const marks = (svg.match(/<path[^>]*\sd="M/g) ?? []).length;
    const width = Number(/<svg[^>]*\swidth="(\d+)/.exec(svg)?.[1] ?? 0);
    if (!svg) problems.push(`chart ${i + 1}: no <svg>`);
    else if (marks < 3 || width < 100) problems.push(`chart ${i + 1}: ${marks} drawn paths, width ${width}`);
    else console.log(`chart ${i + 1}: svg ${width} px wide, ${marks} drawn paths`);
  });
  if (!existsSync(png)) problems.push("no screenshot was written");
  if (problems.length > 0) throw new Error(`report did not render: ${problems.join("; ")}`);
  console.log(`all ${figures.length} charts rendered; screenshot: ${png}`);
});
