// Formatting of durations, times and numbers for people at a glance. Pure: no DOM, no clock (the
// caller passes "now"), so the browser test can check it with a table.

/** Seconds since an RFC 3339 time, or null when the time is absent or the zero time. */
export function secondsSince(iso, nowMs) {
  if (!iso || iso.startsWith('0001-')) return null;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return null;
  return Math.max(0, (nowMs - t) / 1000);
}

/** A duration in seconds as a short phrase: "4 s", "3 min 20 s", "2 h 5 min", "3 d 4 h". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  const s = Math.floor(Math.abs(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** "12 s ago", or "never" when there was no contact. */
export function ago(iso, nowMs) {
  const s = secondsSince(iso, nowMs);
  return s === null ? 'never' : `${duration(s)} ago`;
}

/** Time left until a deadline: "9 min 58 s left", or "late by 3 min" once past. */
export function countdown(deadlineMs, nowMs) {
  const left = (deadlineMs - nowMs) / 1000;
  return left >= 0 ? `${duration(left)} left` : `late by ${duration(-left)}`;
}

/** An integer with thousands separators; "—" for a missing value. */
export function num(n) {
  return typeof n === 'number' && Number.isFinite(n) ? Math.round(n).toLocaleString('en') : '—';
}

/** A score in [0,1] as a percentage. */
export function percent(score) {
  return typeof score === 'number' ? `${Math.round(score * 100)}%` : '—';
}

/** The first 12 characters of a digest: enough to compare by eye, the whole one goes in a title. */
export function shortDigest(d) {
  return d ? d.slice(0, 12) : '—';
}

/** A local clock time for a timestamp, with the date when it is not today. */
export function clock(iso, nowMs) {
  const s = secondsSince(iso, nowMs);
  if (s === null) return '—';
  const t = new Date(Date.parse(iso));
  const sameDay = new Date(nowMs).toDateString() === t.toDateString();
  const time = t.toLocaleTimeString('en-GB', { hour12: false });
  return sameDay ? time : `${t.toISOString().slice(0, 10)} ${time}`;
}
