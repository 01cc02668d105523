// What an activation accepts (POST /v1/enrollments/{id}/activate, schema
// EnrollmentActivate of openapi.json), checked as the user types. The
// server checks it again; this only says so sooner.
import { parseWithLines, lineOf } from './json.js';

const FIELDS = new Set(['attributes', 'configuration', 'reprovisioning', 'broker']);

// [] when `source` is an activation body; else [{path, line, message}].
export function activationProblems(source) {
  let parsed;
  try {
    parsed = parseWithLines(source.trim() === '' ? '{}' : source);
  } catch (error) {
    return [{ path: '$', line: error.line || 1, message: error.message }];
  }
  const { value, lines } = parsed;
  const problems = [];
  const problem = (path, message) => problems.push({ path, line: lineOf(lines, path), message });
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problem('$', 'must be a JSON object');
    return problems;
  }
  for (const key of Object.keys(value))
    if (!FIELDS.has(key)) problem(`$.${key}`, `${key} is not a field of an activation (attributes, configuration, reprovisioning, broker)`);
  if ('attributes' in value) {
    const attributes = value.attributes;
    if (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes)) problem('$.attributes', 'must be an object of strings');
    else
      for (const [name, v] of Object.entries(attributes))
        if (typeof v !== 'string') problem(`$.attributes.${name}`, 'must be a string');
  }
  if ('configuration' in value) {
    const c = value.configuration;
    if (c === null || typeof c !== 'object' || Array.isArray(c)) problem('$.configuration', 'must be a JSON object');
  }
  if ('reprovisioning' in value && !['never', 'replace'].includes(value.reprovisioning))
    problem('$.reprovisioning', 'must be "never" or "replace"');
  if ('broker' in value && typeof value.broker !== 'string') problem('$.broker', 'must be a broker name');
  return problems;
}
