// The Worker's logger: LOG_LEVEL (a Worker variable; "error" in these tests, from
// worker/vitest.config.ts) decides which calls reach the console.
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { log } from "../src/log.ts";

const bindings = env as { LOG_LEVEL?: string };
const configured = bindings.LOG_LEVEL;
afterEach(() => {
  bindings.LOG_LEVEL = configured;
});

function consoleSpies() {
  return {
    debug: vi.spyOn(console, "debug").mockImplementation(() => {}),
    info: vi.spyOn(console, "log").mockImplementation(() => {}),
    warn: vi.spyOn(console, "warn").mockImplementation(() => {}),
    error: vi.spyOn(console, "error").mockImplementation(() => {}),
  };
}

function logEach(): void {
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e", 1);
}

describe("log", () => {
  it("passes on the calls at or above LOG_LEVEL, with their arguments", () => {
    expect(configured).toBe("error");
    const spies = consoleSpies();
    logEach();
    expect(spies.debug).not.toHaveBeenCalled();
    expect(spies.info).not.toHaveBeenCalled();
    expect(spies.warn).not.toHaveBeenCalled();
    expect(spies.error).toHaveBeenCalledExactlyOnceWith("e", 1);
    bindings.LOG_LEVEL = "warn";
    logEach();
    expect(spies.info).not.toHaveBeenCalled();
    expect(spies.warn).toHaveBeenCalledExactlyOnceWith("w");
  });

  it("logs nothing when silent, everything at debug", () => {
    const spies = consoleSpies();
    bindings.LOG_LEVEL = "silent";
    logEach();
    for (const spy of Object.values(spies)) expect(spy).not.toHaveBeenCalled();
    bindings.LOG_LEVEL = "debug";
    logEach();
    for (const spy of Object.values(spies)) expect(spy).toHaveBeenCalledOnce();
  });

  it("logs at info, saying so once, when LOG_LEVEL is not a level", () => {
    const spies = consoleSpies();
    bindings.LOG_LEVEL = "loud";
    logEach();
    logEach();
    expect(spies.debug).not.toHaveBeenCalled();
    expect(spies.info).toHaveBeenCalledTimes(2);
    expect(spies.warn.mock.calls).toEqual([['LOG_LEVEL "loud" is not one of debug, info, warn, error, silent: logging at "info"'], ["w"], ["w"]]);
  });
});
