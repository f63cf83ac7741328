// "Send as a hold": a pending transfer (docs/api.md, "Pending (two-phase) transfers"). The money stays
// in the payer's account, held, until the payee confirms or releases it, or it expires.

export interface HoldChoice {
  pending: boolean;
  /** Hours until the hold expires (1 to 168; the API's timeout_seconds is at most 7 days). */
  hours: string;
}

export const NO_HOLD: HoldChoice = { pending: false, hours: '24' };

/** The API fields for a choice, or an error for a person. */
export function holdFields(choice: HoldChoice): { pending?: boolean; timeout_seconds?: number } | string {
  if (!choice.pending) return {};
  if (!/^\d+$/.test(choice.hours.trim())) return 'Hold for: a whole number of hours.';
  const hours = Number(choice.hours.trim());
  if (hours < 1 || hours > 168) return 'Hold for: 1 to 168 hours.';
  return { pending: true, timeout_seconds: hours * 3600 };
}

export function HoldOption({ value, onChange }: { value: HoldChoice; onChange: (value: HoldChoice) => void }) {
  return (
    <fieldset className="hold-option">
      <legend className="visually-hidden">Hold</legend>
      <div className="check">
        <input
          id="send-as-hold"
          type="checkbox"
          checked={value.pending}
          onChange={(e) => onChange({ ...value, pending: e.target.checked })}
        />
        <label htmlFor="send-as-hold">Send as a hold (the recipient confirms or releases it)</label>
      </div>
      {value.pending && (
        <div className="field narrow">
          <label htmlFor="send-hold-hours">Hold for (hours)</label>
          <input
            id="send-hold-hours"
            inputMode="numeric"
            value={value.hours}
            onChange={(e) => onChange({ ...value, hours: e.target.value })}
          />
        </div>
      )}
    </fieldset>
  );
}
