import { describe, expect, it } from "vitest";
import { signToken } from "./harness";

// deploy.test.ts revokes one tenant's token and then expects a fresh token of
// that tenant to work; that only holds if the two are different tokens.
describe("the harness's token signer", () => {
  it("signs a distinct token each call, even for the same claims in the same second", () => {
    const a = signToken("s3cret", { sub: "user-x", tenant: "x" });
    const b = signToken("s3cret", { sub: "user-x", tenant: "x" });
    expect(a).not.toBe(b);
  });
});
