import { formatMinor, formatSigned, type Currency } from '../lib/money';

/** An amount in major units with its currency code: "12.50 USD" (tabular digits, right-aligned in tables). */
export function Money({ minor, currency, signed = false }: { minor: number; currency: Currency; signed?: boolean }) {
  const text = signed ? formatSigned(minor, currency) : formatMinor(minor, currency);
  const tone = signed ? (minor < 0 ? 'debit' : 'credit') : '';
  return (
    <span className={`money ${tone}`}>
      {text} <span className="ccy">{currency}</span>
    </span>
  );
}
