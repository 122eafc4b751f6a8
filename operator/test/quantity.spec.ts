import assert from "node:assert/strict";
import { parseQuantity, quantityToBytes } from "../src/quantity.ts";

describe("quantity", () => {
  it("parses binary, decimal and exponent suffixes", () => {
    assert.equal(parseQuantity("1Gi"), 2 ** 30);
    assert.equal(parseQuantity("1024Mi"), 2 ** 30);
    assert.equal(parseQuantity("500m"), 0.5);
    assert.equal(parseQuantity("2k"), 2000);
    assert.equal(parseQuantity("1e3"), 1000);
    assert.equal(parseQuantity("1.5G"), 1.5e9);
    assert.equal(parseQuantity(3), 3);
    assert.equal(parseQuantity("lots"), undefined);
  });

  it("sizes bytes, refusing what is no quantity", () => {
    assert.equal(quantityToBytes("5Gi"), 5 * 2 ** 30);
    assert.throws(() => quantityToBytes("5 GB"), /not a quantity/);
  });
});
