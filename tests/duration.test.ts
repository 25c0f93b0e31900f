import { describe, expect, test } from "bun:test";
import { parseDuration, parseSize } from "../lib/duration.ts";

describe("parseDuration", () => {
  test.each([
    ["250ms", 250],
    ["2s", 2000],
    ["1m", 60_000],
    ["1h", 3_600_000],
    ["1.5s", 1500],
    ["0", 0],
    ["1500", 1500],
    [" 2s ", 2000],
    ["2 s", 2000],
  ])("parseDuration reads %p as %p ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test("parseDuration takes an integer as milliseconds", () => {
    expect(parseDuration(0)).toBe(0);
    expect(parseDuration(1500)).toBe(1500);
  });

  test.each([[-1], [1.5], [Number.NaN], [Number.POSITIVE_INFINITY]])(
    "parseDuration refuses the number %p",
    (value) => {
      expect(parseDuration(value)).toBeUndefined();
    },
  );

  test.each([[""], ["soon"], ["-2s"], ["2d"], ["2S"], ["1e3"], ["s"], ["2s5"], ["1m30s"]])(
    "parseDuration refuses %p",
    (text) => {
      expect(parseDuration(text)).toBeUndefined();
    },
  );
});

describe("parseSize", () => {
  test.each([
    ["512", 512],
    ["512b", 512],
    ["10kb", 10 * 1024],
    ["10k", 10 * 1024],
    ["10mb", 10 * 1024 ** 2],
    ["10MB", 10 * 1024 ** 2],
    ["1gb", 1024 ** 3],
    ["1G", 1024 ** 3],
    ["1.5kb", 1536],
    [" 10 mb ", 10 * 1024 ** 2],
    ["0", 0],
  ])("parseSize reads %p as %p bytes", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  test.each([[""], ["big"], ["10tb"], ["-1"], ["10 m b"], ["mb"]])("parseSize refuses %p", (text) => {
    expect(parseSize(text)).toBeUndefined();
  });
});
