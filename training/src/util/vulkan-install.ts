// What to install when Dawn (the `webgpu` package) finds no WebGPU adapter, for the OS that
// /etc/os-release names: Mesa's software Vulkan driver (lavapipe, mesa-vulkan-drivers) and the
// Vulkan loader (libvulkan1). Dawn needs Mesa 23 or newer: Debian 12's own Mesa (22.3) is too
// old, so there it comes from bookworm-backports (25.x); Debian 13 and Ubuntu 24.04 ship a
// recent enough one. A GPU's own Vulkan driver works too; lavapipe works on any machine.
import { readFileSync } from "node:fs";

/** The fields of os-release(5) that choose the command. */
export interface OsRelease {
  /** ID: "debian", "ubuntu", ... */
  id: string;
  /** VERSION_ID: "12", "24.04"; empty on Debian testing and sid. */
  versionId: string;
  /** VERSION_CODENAME: "bookworm", "trixie", "noble". */
  codename: string;
  /** PRETTY_NAME, for the message when no command is known. */
  prettyName: string;
}

/** Parses os-release(5): KEY=value lines, values optionally quoted, # comments. */
export function parseOsRelease(text: string): OsRelease {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\s*([A-Z0-9_]+)=(.*?)\s*$/.exec(line);
    if (!m) continue;
    let value = m[2];
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\(["\\$`])/g, "$1");
    }
    fields.set(m[1], value);
  }
  return {
    id: (fields.get("ID") ?? "").toLowerCase(),
    versionId: fields.get("VERSION_ID") ?? "",
    codename: (fields.get("VERSION_CODENAME") ?? "").toLowerCase(),
    prettyName: fields.get("PRETTY_NAME") ?? fields.get("NAME") ?? "",
  };
}

/** The machine's os-release (/etc/os-release, else /usr/lib/os-release); null when neither exists (macOS, Windows). */
export function readOsRelease(): OsRelease | null {
  for (const path of ["/etc/os-release", "/usr/lib/os-release"]) {
    try {
      return parseOsRelease(readFileSync(path, "utf8"));
    } catch {
      // try the next one
    }
  }
  return null;
}

export interface InstallCommand {
  /** The OS as the message names it: "Debian 12". */
  os: string;
  /** One shell line that installs lavapipe and the Vulkan loader. */
  command: string;
  /** Why this command, when it is not the obvious one. */
  note?: string;
}

const PACKAGES = "mesa-vulkan-drivers libvulkan1";
const BACKPORTS_SOURCE = "deb http://deb.debian.org/debian bookworm-backports main";
const BACKPORTS_LIST = "/etc/apt/sources.list.d/backports.list";

/** `apt-get ...`, through sudo when not run as root. */
const apt = (args: string, root: boolean) => `${root ? "" : "sudo "}apt-get ${args}`;

/** Whether a dotted version ("24.04", "13") is at least `min` (compared as numbers). */
function atLeast(version: string, min: number): boolean {
  const v = Number.parseFloat(version);
  return Number.isFinite(v) && v >= min;
}

/**
 * The command that installs lavapipe on this OS, run as root or (root false) through sudo; null
 * for an OS we know no tested command for (the message then names the packages instead).
 */
export function lavapipeInstallCommand(os: OsRelease | null, root: boolean): InstallCommand | null {
  if (!os) return null;
  const plain = `${apt("update", root)} && ${apt(`install -y ${PACKAGES}`, root)}`;
  if (os.id === "debian") {
    if (os.versionId === "12" || os.codename === "bookworm") {
      const addSource = root ? `echo '${BACKPORTS_SOURCE}' > ${BACKPORTS_LIST}` : `echo '${BACKPORTS_SOURCE}' | sudo tee ${BACKPORTS_LIST} >/dev/null`;
      return {
        os: "Debian 12",
        command: `${addSource} && ${apt("update", root)} && ${apt(`install -y -t bookworm-backports ${PACKAGES}`, root)}`,
        note: "from bookworm-backports: bookworm's own Mesa 22.3 is too old for Dawn",
      };
    }
    // 13 (trixie) and later; testing and sid have no VERSION_ID
    if (atLeast(os.versionId, 13) || (os.versionId === "" && os.codename !== "")) {
      return { os: os.versionId ? `Debian ${os.versionId}` : `Debian ${os.codename}`, command: plain };
    }
    return null;
  }
  if (os.id === "ubuntu" && atLeast(os.versionId, 24.04)) return { os: `Ubuntu ${os.versionId}`, command: plain };
  return null;
}

/** The one line `npm run test:gpu` stops with when Dawn finds no adapter. */
export function noAdapterLine(os: OsRelease | null, root: boolean): string {
  const head = "No WebGPU adapter: Dawn found no Vulkan driver it can use.";
  const install = lavapipeInstallCommand(os, root);
  if (install) {
    const why = install.note ? ` (${install.note})` : "";
    return `${head} On ${install.os}, install Mesa's software Vulkan driver (lavapipe) and the Vulkan loader${why}: ${install.command}`;
  }
  const where = os?.prettyName ? ` No install command is known for ${os.prettyName}:` : "";
  return `${head}${where} install a Vulkan driver (without a GPU: Mesa's software driver, lavapipe, Mesa 23 or newer) and the Vulkan loader (on Debian and Ubuntu: ${PACKAGES}).`;
}
