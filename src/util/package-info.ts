// The package's own package.json (name, version), found by walking up from this file: src/util
// when run from the sources, dist/src/util when compiled (in a checkout or an installed package).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface PackageInfo {
  name: string;
  version: string;
}

let cached: PackageInfo | undefined;

export function packageInfo(): PackageInfo {
  if (cached) return cached;
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = here; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (!existsSync(file)) continue;
    const json = JSON.parse(readFileSync(file, "utf8")) as Partial<PackageInfo>;
    if (json.name === "spinn-ts" && typeof json.version === "string") {
      cached = { name: json.name, version: json.version };
      return cached;
    }
  }
  throw new Error(`spinn-ts's package.json not found above ${here}`);
}
