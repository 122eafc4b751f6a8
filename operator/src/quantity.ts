/**
 * Kubernetes resource quantities ("500m", "1Gi", "2e3"), parsed to plain numbers. Used to compare the values the
 * operator asks for with the canonical forms the API server stores, and to size NATS's file store in bytes.
 */

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

/** The value of a quantity in base units, or undefined when the text is not a quantity. */
export function parseQuantity(text: string | number): number | undefined {
  if (typeof text === "number") return text;
  const match = QUANTITY.exec(text.trim());
  if (!match) return undefined;
  const number = Number(match[1]);
  const suffix = match[2] ?? "";
  if (suffix in BINARY) return number * BINARY[suffix]!;
  if (suffix in DECIMAL) return number * DECIMAL[suffix]!;
  return number * 10 ** Number(suffix.slice(1));
}

/** A quantity in whole bytes; throws on text that is not a quantity (the CRD's pattern rules that out). */
export function quantityToBytes(text: string): number {
  const value = parseQuantity(text);
  if (value === undefined) throw new Error(`not a quantity: ${JSON.stringify(text)}`);
  return Math.ceil(value);
}
