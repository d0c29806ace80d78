// The workload format moved to @rmaplab/workload; this module re-exports it for existing imports.
export * from '@rmaplab/workload'
