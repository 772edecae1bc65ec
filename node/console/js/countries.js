// The reference country table ({"FR": ["France", "europe"], ...}), which the node derives from the
// same file as its default shard map; fetched once per page load.

let pending = null;

/** The country table; an empty one if it cannot be had (members then group as "unknown"). */
export function countries() {
  pending ??= fetch('/console/countries.json', { credentials: 'omit' })
    .then((r) => (r.ok ? r.json() : {}))
    .catch(() => ({}));
  return pending;
}
