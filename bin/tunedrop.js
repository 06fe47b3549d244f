#!/usr/bin/env node
// The tunedrop CLI. Its code is TypeScript under cli/, loaded through tsx like the rest of the project.
import 'tsx';

const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
