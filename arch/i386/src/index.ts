/**
 * @rmaplab/arch-i386: the i386 page-table layouts of Linux 2.6.5, 2-level
 * (`i386`) and PAE (`i386Pae`), for the rmaplab VM model.
 *
 * @packageDocumentation
 */
export { createI386, type I386Options, i386, i386Pae } from './i386.js'
