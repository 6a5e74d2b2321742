// Pure helpers of the plugins page (插件管理): the approval form built from
// an inspected manifest and the install request built from that form.

export interface CronEntry { name: string; schedule: string }
export interface Manifest {
  name: string; version: string; abi: number; description?: string; author?: string
  permissions: string[]; hosts?: string[]; topics?: string[]; events?: string[]
  cron?: CronEntry[]; device_types?: string[]; settings?: Record<string, string>
}
export interface Inspection {
  manifest: Manifest; digest: string; signed: boolean; signer_key_id?: string
  installed_version?: string; problem?: string
}
export interface Approval {
  permissions: string[]; hosts?: string[]; settings?: Record<string, string>; allow_unsigned?: boolean
}
export interface InstallRequest { package: string; approval: Approval }

/** The admin's choices for one inspected package. */
export interface ApprovalForm {
  hosts: Record<string, boolean>
  allowUnsigned: boolean
}

/** Every declared host ticked; the unsigned override off. */
export function newApprovalForm(ins: Inspection): ApprovalForm {
  const hosts: Record<string, boolean> = {}
  for (const h of ins.manifest.hosts ?? []) hosts[h] = true
  return { hosts, allowUnsigned: false }
}

/**
 * Whether the package's signer is a trusted key (GET /api/v1/plugin-keys).
 * An unsigned package, or one signed by a key the county has not trusted,
 * installs only with the explicit unsigned override.
 */
export function isTrusted(ins: Inspection, trustedKeyIds: string[]): boolean {
  return ins.signed && !!ins.signer_key_id && trustedKeyIds.includes(ins.signer_key_id)
}

/** Whether the form lets the install go ahead (untrusted needs the override). */
export function canInstall(trusted: boolean, f: ApprovalForm): boolean {
  return trusted || f.allowUnsigned
}

/**
 * The POST /api/v1/plugins body: the manifest's permissions, the ticked hosts
 * in the manifest's order, allow_unsigned only for an untrusted package.
 */
export function buildInstallRequest(pkgBase64: string, ins: Inspection, f: ApprovalForm, trusted: boolean): InstallRequest {
  const approval: Approval = { permissions: [...(ins.manifest.permissions ?? [])] }
  const hosts = (ins.manifest.hosts ?? []).filter((h) => f.hosts[h])
  if (hosts.length) approval.hosts = hosts
  if (ins.manifest.settings && Object.keys(ins.manifest.settings).length) approval.settings = { ...ins.manifest.settings }
  if (!trusted && f.allowUnsigned) approval.allow_unsigned = true
  return { package: pkgBase64, approval }
}

/** Base64 of a file's bytes (the JSON encoding of a Go []byte). */
export function toBase64(bytes: Uint8Array): string {
  let s = ''
  const chunk = 0x8000
  for (let i = 0; i < bytes.length; i += chunk) s += String.fromCharCode(...bytes.subarray(i, i + chunk))
  return btoa(s)
}

/** Nanoseconds as a short human duration: 850 µs, 12.3 ms, 4.2 s. */
export function formatNs(ns: number | undefined): string {
  if (!ns) return '0'
  if (ns < 1e3) return `${ns} ns`
  if (ns < 1e6) return `${(ns / 1e3).toFixed(1)} µs`
  if (ns < 1e9) return `${(ns / 1e6).toFixed(1)} ms`
  return `${(ns / 1e9).toFixed(1)} s`
}
