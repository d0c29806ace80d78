import { gunzipSync } from 'node:zlib'

/**
 * Reads the regular files of a gzipped tar (an npm package tarball) into a map
 * from path to content. Understands ustar prefixes and pax `path` records,
 * which is what npm and pnpm write for long paths.
 */
export function readTarball(gz: Uint8Array): Map<string, Buffer> {
  const tar = gunzipSync(gz)
  const files = new Map<string, Buffer>()
  let offset = 0
  let paxPath: string | undefined
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512)
    if (header.every((b) => b === 0)) break
    const field = (start: number, length: number) =>
      header
        .subarray(start, start + length)
        .toString('utf8')
        .replace(/\0.*$/s, '')
    const size = Number.parseInt(field(124, 12).trim() || '0', 8)
    const type = field(156, 1) || '0'
    const magic = field(257, 6)
    const prefix = magic.startsWith('ustar') ? field(345, 155) : ''
    const name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100)
    const body = tar.subarray(offset + 512, offset + 512 + size)
    offset += 512 + Math.ceil(size / 512) * 512
    if (type === 'x') {
      paxPath = parsePax(body.toString('utf8')).get('path')
      continue
    }
    if (type === 'g') continue
    if (type === '0' || type === '\0' || type === '7') files.set(paxPath ?? name, Buffer.from(body))
    paxPath = undefined
  }
  return files
}

function parsePax(text: string): Map<string, string> {
  const records = new Map<string, string>()
  let rest = text
  while (rest.length > 0) {
    const space = rest.indexOf(' ')
    if (space < 0) break
    const length = Number.parseInt(rest.slice(0, space), 10)
    if (!(length > 0)) break
    const record = Buffer.from(rest).subarray(0, length).toString('utf8')
    const eq = record.indexOf('=')
    if (eq > 0) records.set(record.slice(space + 1, eq), record.slice(eq + 1, -1))
    rest = Buffer.from(rest).subarray(length).toString('utf8')
  }
  return records
}
