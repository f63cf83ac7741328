import { useState, type FormEvent } from 'react';

export interface DateRange {
  /** "YYYY-MM-DD" or "" — inclusive days, in UTC. */
  start: string;
  end: string;
}

export function DateRangeForm({ value, onApply }: { value: DateRange; onApply: (range: DateRange) => void }) {
  const [start, setStart] = useState(value.start);
  const [end, setEnd] = useState(value.end);
  const [problem, setProblem] = useState<string | null>(null);

  function submit(event: FormEvent) {
    event.preventDefault();
    if (start && end && start > end) {
      setProblem('The start date must be on or before the end date.');
      return;
    }
    setProblem(null);
    onApply({ start, end });
  }

  function clear() {
    setStart('');
    setEnd('');
    setProblem(null);
    onApply({ start: '', end: '' });
  }

  return (
    <form className="inline-form range" onSubmit={submit} aria-label="Date range">
      <div className="field">
        <label htmlFor="range-start">Start date</label>
        <input id="range-start" type="date" value={start} onChange={(e) => setStart(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="range-end">End date</label>
        <input id="range-end" type="date" value={end} onChange={(e) => setEnd(e.target.value)} />
      </div>
      <button type="submit" className="secondary">
        Show period
      </button>
      {(value.start || value.end) && (
        <button type="button" className="link" onClick={clear}>
          All dates
        </button>
      )}
      {problem && (
        <p className="alert" role="alert">
          {problem}
        </p>
      )}
    </form>
  );
}
