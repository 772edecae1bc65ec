// What the console concludes from the API's answers: grouping by region and country, lag, alerts,
// deadlines. Pure functions of their arguments (no DOM, no clock, no fetch), so the browser test
// can drive them with tables.

import { duration as fmtS } from './format.js';

/** The INTERPOL regions (the default shards) as people name them, in display order. */
export const REGIONS = [
  ['central', 'General Secretariat (central sites)'],
  ['africa', 'Africa'],
  ['americas', 'Americas'],
  ['asia_south_pacific', 'Asia and South Pacific'],
  ['europe', 'Europe'],
  ['mena', 'Middle East and North Africa'],
  ['unknown', 'Country not in the reference table'],
];

/** Defaults for the thresholds an operator can change in the console (kept per browser). */
export const DEFAULT_SETTINGS = Object.freeze({
  downAfterS: 30, // a member unreachable this long raises an alert
  undeliveredAfterS: 300, // a notification without every receipt this long raises an alert
});

/**
 * A lag this long means "never": a member that has not heard from a shard's leader since it
 * started reports the time since the zero time (centuries), not an absence.
 */
export const NEVER_S = 10 * 365 * 86400;

/** A shard's lag in time as people read it: a duration, "never" for no contact yet, "—" for none. */
export function lagText(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  return seconds < 0 || seconds >= NEVER_S ? 'never' : fmtS(seconds);
}

/**
 * The node's staleness rule (node/staleness.go) applied to a member's copy of a shard: stale when
 * it never had contact with its leader (lag -1, or the centuries an older release reports) or when
 * its lag is strictly longer than the node's max_staleness, which GET /v1/shards gives as
 * stale_after_seconds. Until the node has said (staleAfterS null), only "never" counts.
 */
export function isStale(lagSeconds, staleAfterS) {
  if (lagSeconds === null || lagSeconds === undefined) return false;
  if (lagSeconds < 0 || lagSeconds >= NEVER_S) return true;
  return typeof staleAfterS === 'number' && lagSeconds > staleAfterS;
}

/** The region key of a member: central sites have no country; others by the reference table. */
export function regionOf(m, countries) {
  if (!m.country) return m.role === 'central' ? 'central' : 'unknown';
  const c = countries[m.country];
  return c ? c[1] : 'unknown';
}

/** Members grouped as [{region, label, countries: [{code, name, members}]}], each level sorted. */
export function groupMembers(members, countries) {
  const byRegion = new Map(REGIONS.map(([k, label]) => [k, { region: k, label, countries: new Map() }]));
  for (const m of members) {
    const r = byRegion.get(regionOf(m, countries)) || byRegion.get('unknown');
    const code = m.country || '';
    if (!r.countries.has(code)) {
      const name = code ? (countries[code] ? countries[code][0] : code) : 'No country (General Secretariat)';
      r.countries.set(code, { code, name, members: [] });
    }
    r.countries.get(code).members.push(m);
  }
  const out = [];
  for (const r of byRegion.values()) {
    if (r.countries.size === 0) continue;
    const cs = [...r.countries.values()].sort((a, b) => a.name.localeCompare(b.name));
    for (const c of cs) c.members.sort((a, b) => a.name.localeCompare(b.name));
    out.push({ region: r.region, label: r.label, countries: cs });
  }
  return out;
}

/** The worst lag over a member's shards: {entries, seconds}, null fields when it reports none. */
export function memberLag(m) {
  const shards = m.shards || [];
  if (shards.length === 0) return { entries: null, seconds: null };
  let entries = 0;
  let seconds = 0;
  for (const s of shards) {
    entries = Math.max(entries, s.lag_entries || 0);
    seconds = Math.max(seconds, s.lag_seconds || 0);
  }
  return { entries, seconds };
}

/** True for the states a person should look at: not alive, or a stale copy (isStale). */
export function needsAttention(m, staleAfterS) {
  if (m.status !== 'alive') return true;
  return (m.shards || []).some((s) => isStale(s.lag_seconds, staleAfterS));
}

/**
 * Since when a member has been unreachable, in ms: the earlier of when this console first saw it
 * down and its last reported contact (which stops advancing once it is cut off). null when alive.
 */
export function downSinceMs(m, firstSeenDownMs) {
  if (m.status === 'alive' || m.status === 'left') return null;
  let since = firstSeenDownMs ?? null;
  const lc = m.last_contact ? Date.parse(m.last_contact) : NaN;
  if (!Number.isNaN(lc) && lc > 0 && (since === null || lc < since)) since = lc;
  return since;
}

/**
 * The alerts for the states that need a person, each {key, level: 'bad'|'warn', text, view}.
 * in: {members, shards (this node's), hits (or null), firstSeenDown: Map name->ms, nowMs, settings,
 * staleAfterS (the node's max_staleness, see isStale), health (this node's /v1/health, or null)}.
 */
export function computeAlerts({ members = [], shards = [], hits = null, firstSeenDown = new Map(), nowMs, settings = DEFAULT_SETTINGS, staleAfterS = null, health = null }) {
  const out = [];
  const wh = health?.checks?.webhook;
  if (wh && wh.status !== 'ok') {
    out.push({ key: 'webhook', level: 'bad', view: 'hits', text: `The webhook to the national system is failing: ${wh.detail}` });
  }
  for (const m of members) {
    const since = downSinceMs(m, firstSeenDown.get(m.name));
    if (since !== null && (nowMs - since) / 1000 >= settings.downAfterS) {
      const where = [m.role, m.country].filter(Boolean).join(', ');
      out.push({ key: `down:${m.name}`, level: 'bad', view: 'federation', member: m.name,
        text: `${m.name} (${where}) is unreachable (${m.status}) for ${fmtS((nowMs - since) / 1000)}` });
    }
    if (m.status !== 'alive') continue;
    for (const s of m.shards || []) {
      if (isStale(s.lag_seconds, staleAfterS)) {
        out.push({ key: `stale:${m.name}:${s.shard}`, level: 'warn', view: 'shards',
          text: s.lag_seconds < 0 || s.lag_seconds >= NEVER_S ? `${m.name}'s copy of ${s.shard} has had no contact with its leader yet`
            : `${m.name}'s copy of ${s.shard} is stale: no contact with its leader for ${fmtS(s.lag_seconds)}` });
      }
    }
  }
  for (const s of shards) {
    if (!s.leader) {
      out.push({ key: `leaderless:${s.shard}`, level: 'bad', view: 'shards',
        text: `Shard ${s.shard} has no leader: writes to it are refused` });
    }
    if (s.halted) {
      out.push({ key: `halted:${s.shard}`, level: 'bad', view: 'shards',
        text: `Shard ${s.shard} is halted on this node (${s.halted}): reads come from the copy as it was, writes go to other nodes` +
          (s.needs_command_format ? `; it needs a release that reads raft command format ${s.needs_command_format}` +
            (s.needs_release ? ` (members run ${s.needs_release})` : '') : '') });
    } else if (s.stale) {
      out.push({ key: `stale-self:${s.shard}`, level: 'bad', view: 'shards',
        text: `This node's copy of ${s.shard} is older than max_staleness: answers say so` });
    }
  }
  for (const hit of hits || []) {
    const late = undelivered(hit, nowMs).filter((u) => u.ageS >= settings.undeliveredAfterS);
    if (late.length) {
      out.push({ key: `undelivered:${hit.id}`, level: 'bad', view: 'hits',
        text: `Hit ${hit.id} not delivered to ${late.map((u) => u.to).join(', ')} for ${fmtS(late[0].ageS)}` });
    }
    const dl = hitDeadline(hit);
    if (hit.decision === 'pending' && dl && nowMs > dl.ms) {
      out.push({ key: `deadline:${hit.id}`, level: 'bad', view: 'hits',
        text: `Hit ${hit.id} on ${hit.record_id} (${hit.recording_country}) awaits a decision past its deadline` });
    }
  }
  const rank = { bad: 0, warn: 1 };
  return out.sort((a, b) => rank[a.level] - rank[b.level] || a.key.localeCompare(b.key));
}

/**
 * The deadline of a hit's decision: the hit's own `deadline` when the node sends one, otherwise
 * assumed from the searched time (urgent 10 minutes, routine 1 hour, as the domain sets).
 */
export function hitDeadline(hit) {
  if (hit.deadline) {
    const t = Date.parse(hit.deadline);
    if (!Number.isNaN(t)) return { ms: t, assumed: false };
  }
  const at = Date.parse(hit.searched_at);
  if (Number.isNaN(at)) return null;
  const urgent = hit.urgent === true || hit.priority === 'urgent';
  return { ms: at + (urgent ? 10 : 60) * 60 * 1000, assumed: true };
}

/** The recipients still without a receipt for a hit, with how long it has waited: [{to, ageS}]. */
export function undelivered(hit, nowMs) {
  const at = Date.parse(hit.searched_at);
  const ageS = Number.isNaN(at) ? 0 : Math.max(0, (nowMs - at) / 1000);
  return Object.entries(hit.receipts || {}).filter(([, v]) => !v).map(([to]) => ({ to, ageS }));
}

/** Each member's progress on a shard: [{name, status, voter, applied, lagEntries, lagSeconds, digest}]. */
export function shardHolders(shard, members) {
  const out = [];
  for (const m of members) {
    const s = (m.shards || []).find((x) => x.shard === shard);
    if (!s) continue;
    out.push({ name: m.name, self: !!m.self, status: m.status, role: m.role, voter: m.role === 'central',
      applied: s.applied_index, lagEntries: s.lag_entries, lagSeconds: s.lag_seconds, digest: s.digest || '' });
  }
  return out.sort((a, b) => (b.voter - a.voter) || a.name.localeCompare(b.name));
}

/**
 * Whether the holders of a shard agree on its digest. Members gossip the start of their digest
 * (12 hex digits); this node's is known whole. Returns {known, agree, differ: [names]} counting the
 * members that report one, or null when none does.
 */
export function digestAgreement(selfDigest, holders) {
  const reported = holders.filter((x) => x.digest && !x.self);
  if (reported.length === 0) return null;
  const differ = reported.filter((x) => !String(selfDigest || '').startsWith(x.digest)).map((x) => x.name);
  return { known: reported.length + 1, agree: reported.length - differ.length + 1, differ };
}
