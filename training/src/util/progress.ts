// Progress bars for long work, on stderr so piped stdout (tables, JSON) stays clean. Without a
// terminal a bar is replaced by plain lines (`everyUpdate`) or by silence, so logs stay readable.
import cliProgress from "cli-progress";

export interface Progress {
  update(value: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

const silent: Progress = { update() {}, stop() {} };

export interface ProgressOptions {
  /** Without a terminal, print one line per update (for slow updates such as epochs). */
  linesWithoutTty?: boolean;
}

export function progressBar(label: string, total: number, format = "{bar} {percentage}% | {value}/{total}", opts: ProgressOptions = {}): Progress {
  if (process.env.VITEST || process.env.NO_PROGRESS) return silent;
  if (!process.stderr.isTTY) {
    if (!opts.linesWithoutTty) return silent;
    const max = total;
    return {
      update: (value, payload) => {
        const text = format
          .replace("{bar} ", "")
          .replace(/\{(\w+)\}/g, (_, k: string) =>
            k === "value"
              ? String(value)
              : k === "total"
                ? String(max)
                : k === "percentage"
                  ? String(Math.round((100 * value) / max))
                  : String(payload?.[k] ?? ""),
          );
        process.stderr.write(`${label} ${text}\n`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: `${label} ${format}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update: (value, payload) => bar.update(value, payload),
    stop: () => bar.stop(),
  };
}
