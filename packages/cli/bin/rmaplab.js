#!/usr/bin/env node
// The published entry point: the compiled command in dist/.
import '../dist/main.js'
