/**
 * Handlebars templates from the package's `templates/` directory: loaded once, compiled strict (a
 * missing value is an error, not an empty string), never HTML-escaped, with a `json` helper that
 * writes a value as a JSON literal (also valid YAML) so that no value can break the file's syntax.
 */
import { readFileSync } from "node:fs";
import Handlebars from "handlebars";
import { KubehaError } from "../errors.js";

/** The package's templates/ directory (from dist/src/render/template.js). */
export const TEMPLATES_DIR = new URL("../../../templates/", import.meta.url);

const hbs = Handlebars.create();
hbs.registerHelper("json", (value: unknown) => JSON.stringify(value));

const cache = new Map<string, Handlebars.TemplateDelegate>();

/** Render `templates/<name>` with `context`; throws naming the template when a value is missing. */
export function renderTemplate(name: string, context: Record<string, unknown>): string {
  let template = cache.get(name);
  if (!template) {
    let source: string;
    try {
      source = readFileSync(new URL(name, TEMPLATES_DIR), "utf8");
    } catch (err) {
      throw new KubehaError(`template ${name}: cannot read it: ${(err as Error).message}`, undefined, {
        cause: err,
      });
    }
    template = hbs.compile(source, { noEscape: true, strict: true });
    cache.set(name, template);
  }
  try {
    return template(context);
  } catch (err) {
    throw new KubehaError(`template ${name}: ${(err as Error).message.split("\n")[0]}`, undefined, {
      cause: err,
    });
  }
}
