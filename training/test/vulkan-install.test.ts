// What `npm run test:gpu` says when Dawn finds no WebGPU adapter: the install command for the
// OS in /etc/os-release, and the check itself stopping with that one line when the Vulkan loader
// is pointed at no driver.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { lavapipeInstallCommand, noAdapterLine, parseOsRelease, readOsRelease } from "../src/util/vulkan-install.ts";

// os-release files as the distributions ship them
const DEBIAN_12 = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`;
const DEBIAN_13 = `PRETTY_NAME="Debian GNU/Linux 13 (trixie)"
NAME="Debian GNU/Linux"
VERSION_ID="13"
VERSION="13 (trixie)"
VERSION_CODENAME=trixie
DEBIAN_VERSION_FULL=13.1
ID=debian
`;
const DEBIAN_SID = `PRETTY_NAME="Debian GNU/Linux forky/sid"
NAME="Debian GNU/Linux"
VERSION_CODENAME=forky
ID=debian
`;
const DEBIAN_11 = `PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"
VERSION_ID="11"
VERSION_CODENAME=bullseye
ID=debian
`;
const UBUNTU_2404 = `PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=noble
`;
const UBUNTU_2204 = `PRETTY_NAME="Ubuntu 22.04.4 LTS"
VERSION_ID="22.04"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
`;
const FEDORA = `NAME="Fedora Linux"
VERSION_ID=41
ID=fedora
PRETTY_NAME="Fedora Linux 41 (Workstation Edition)"
`;

const BOOKWORM_AS_ROOT =
  "echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list && apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1";
const PLAIN_AS_ROOT = "apt-get update && apt-get install -y mesa-vulkan-drivers libvulkan1";

describe("os-release", () => {
  it("reads ID, VERSION_ID, VERSION_CODENAME and PRETTY_NAME, quoted or not", () => {
    expect(parseOsRelease(UBUNTU_2404)).toEqual({ id: "ubuntu", versionId: "24.04", codename: "noble", prettyName: "Ubuntu 24.04.1 LTS" });
    expect(parseOsRelease(`# a comment\nID='debian'\nVERSION_ID=12\nPRETTY_NAME="say \\"hi\\""\n`)).toEqual({
      id: "debian",
      versionId: "12",
      codename: "",
      prettyName: 'say "hi"',
    });
    expect(parseOsRelease("")).toEqual({ id: "", versionId: "", codename: "", prettyName: "" });
  });
});

describe("the install command for lavapipe", () => {
  it("on Debian 12 adds bookworm-backports (stock Mesa 22.3 is too old) and installs from it", () => {
    expect(lavapipeInstallCommand(parseOsRelease(DEBIAN_12), true)?.command).toBe(BOOKWORM_AS_ROOT);
  });

  it("on Debian 13, Debian testing/sid and Ubuntu 24.04 installs the distribution's own Mesa", () => {
    for (const os of [DEBIAN_13, DEBIAN_SID, UBUNTU_2404]) expect(lavapipeInstallCommand(parseOsRelease(os), true)?.command).toBe(PLAIN_AS_ROOT);
  });

  it("goes through sudo when not run as root, the backports source written with sudo tee", () => {
    expect(lavapipeInstallCommand(parseOsRelease(DEBIAN_12), false)?.command).toBe(
      "echo 'deb http://deb.debian.org/debian bookworm-backports main' | sudo tee /etc/apt/sources.list.d/backports.list >/dev/null && sudo apt-get update && sudo apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1",
    );
    expect(lavapipeInstallCommand(parseOsRelease(UBUNTU_2404), false)?.command).toBe(
      "sudo apt-get update && sudo apt-get install -y mesa-vulkan-drivers libvulkan1",
    );
  });

  it("knows no command for older releases and other distributions, or without os-release", () => {
    for (const os of [DEBIAN_11, UBUNTU_2204, FEDORA]) expect(lavapipeInstallCommand(parseOsRelease(os), true)).toBeNull();
    expect(lavapipeInstallCommand(null, true)).toBeNull();
  });
});

describe("the no-adapter line", () => {
  it("is one line naming the OS and its command", () => {
    const line = noAdapterLine(parseOsRelease(DEBIAN_12), true);
    expect(line).not.toContain("\n");
    expect(line).toMatch(/^No WebGPU adapter: .* On Debian 12, install .*bookworm's own Mesa 22\.3 is too old.*: echo 'deb /);
    expect(line.endsWith(BOOKWORM_AS_ROOT)).toBe(true);
    expect(noAdapterLine(parseOsRelease(DEBIAN_13), true)).toMatch(
      / On Debian 13, install .*: apt-get update && apt-get install -y mesa-vulkan-drivers libvulkan1$/,
    );
    expect(noAdapterLine(parseOsRelease(UBUNTU_2404), true)).toMatch(
      / On Ubuntu 24\.04, install .*: apt-get update && apt-get install -y mesa-vulkan-drivers libvulkan1$/,
    );
  });

  it("without a known command, names the OS and the packages", () => {
    const line = noAdapterLine(parseOsRelease(FEDORA), true);
    expect(line).not.toContain("\n");
    expect(line).toContain("No install command is known for Fedora Linux 41 (Workstation Edition)");
    expect(line).toContain("Mesa 23 or newer");
    expect(noAdapterLine(null, true)).not.toContain("No install command is known");
  });
});

describe("npm run test:gpu's check (training/src/cli/check-gpu.ts)", () => {
  it("stops at once with exit status 1 and only the no-adapter line when the Vulkan loader finds no driver", () => {
    const env: NodeJS.ProcessEnv = { ...process.env, VK_ICD_FILENAMES: "/nonexistent", VK_DRIVER_FILES: "/nonexistent" };
    delete env.EDGEREC_WEBGPU_FLAGS;
    const cli = fileURLToPath(new URL("../src/cli/check-gpu.ts", import.meta.url));
    const run = spawnSync(process.execPath, ["--import", "tsx", cli], { encoding: "utf8", env });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(`error: ${noAdapterLine(readOsRelease(), process.getuid?.() === 0)}\n`);
  });
});
