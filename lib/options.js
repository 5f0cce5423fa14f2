'use strict';
// One check for every function that takes an options object, as `setOptions` checks its own:
// a plain object (not null, an array or a number), own keys only (`{ toString: 5 }` is an
// unknown option, not Object.prototype's), every key known; errors name the function the user
// called and list the known options. Each function then checks its values' types and ranges.

/** A value as an error message names it: `42`, `a string ("x")`, `an array`, `null`. */
function describeValue(value) {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${JSON.stringify(value)})`;
  if (typeof value === 'number') return String(value);
  return `a ${typeof value}`;
}

/**
 * Checks `options` against the `known` option names for `fnName` (e.g. 'memwatch.analyze');
 * returns it, or `{}` when undefined.
 */
function checkOptions(fnName, options, known) {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${fnName}: expected an options object (known options: ${known.join(', ')}), got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new TypeError(`${fnName}: unknown option "${key}"; known options: ${known.join(', ')}`);
  }
  return options;
}

module.exports = { checkOptions, describeValue };
