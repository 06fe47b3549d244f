#!/usr/bin/env node
import { buildApp } from '../lib/app.js';
import { checkWithNagPacks } from '../lib/nag.js';

// Region and account come from the CLI's environment at deploy time; synth needs neither.
const { app } = buildApp();
// cdk synth and cdk deploy fail on any cdk-nag finding not acknowledged beside its construct.
checkWithNagPacks(app);
app.synth();
