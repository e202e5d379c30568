/**
 * Kubernetes resource quantities ("500m", "2Gi", "1536Mi", "1e3", "250n") as plain numbers: CPU in
 * cores, memory and storage in bytes. The grammar is the API's (k8s.io/apimachinery resource.Quantity):
 * a signed decimal number followed by a binary-SI suffix (Ki…Ei), a decimal-SI suffix (n, u, m, "",
 * k, M, G, T, P, E) or a decimal exponent (e3, E-2).
 */

const BINARY_SI: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const DECIMAL_SI: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE])?$/;

/** A quantity the API sent that does not follow the grammar (never expected from a real API server). */
export class InvalidQuantityError extends Error {
  override readonly name = 'InvalidQuantityError';
}

/** Parses a quantity into a number in the base unit (cores, bytes, count). */
export function parseQuantity(quantity: string | number): number {
  if (typeof quantity === 'number') {
    if (!Number.isFinite(quantity))
      throw new InvalidQuantityError(`${quantity} is not a Kubernetes quantity`);
    return quantity;
  }
  const match = QUANTITY.exec(quantity.trim());
  if (!match) {
    throw new InvalidQuantityError(
      `"${quantity}" is not a Kubernetes quantity (expected a number with an optional suffix such as 500m, 2Gi, 1536Mi or 1e3)`,
    );
  }
  const value = Number(match[1]);
  const suffix = match[2] ?? '';
  if (suffix in BINARY_SI) return value * BINARY_SI[suffix]!;
  if (suffix in DECIMAL_SI) return scaleDecimal(match[1]!, DECIMAL_SI[suffix]!);
  return scaleDecimal(match[1]!, 10 ** Number(suffix.slice(1)));
}

/**
 * Multiplies a decimal string by a power of ten without the binary rounding of `0.1 * 3`: "250" with
 * 1e-9 gives 2.5e-7, and "1.5" with 1e3 gives exactly 1500.
 */
function scaleDecimal(decimal: string, multiplier: number): number {
  const exponent = Math.round(Math.log10(multiplier));
  return Number(`${decimal}e${exponent}`);
}

/** A quantity or the fallback when the field is absent (an unset request, a missing capacity). */
export function quantityOr(quantity: string | number | undefined | null, fallback: number): number {
  return quantity === undefined || quantity === null ? fallback : parseQuantity(quantity);
}

/** Cores rounded to millicores, the precision the API itself keeps for CPU. */
export function roundCores(cores: number): number {
  return Math.round(cores * 1_000) / 1_000;
}

/** Cores as the API writes CPU: whole cores (`2`), else millicores rounded up (`1500m`). */
export function formatCores(cores: number): string {
  const millicores = Math.ceil(Math.round(cores * 1e6) / 1e3);
  return millicores % 1_000 === 0 ? String(millicores / 1_000) : `${millicores}m`;
}

/** Bytes as memory or storage: whole Gi or Mi when exact, else Mi rounded up (`1536Mi`). */
export function formatBytes(bytes: number): string {
  if (bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30}Gi`;
  return `${Math.ceil(bytes / 2 ** 20)}Mi`;
}
