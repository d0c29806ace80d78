// Layouts moved to @rmaplab/workload; this module re-exports them for existing imports.
export * from '@rmaplab/workload'
