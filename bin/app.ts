#!/usr/bin/env node
import { buildApp } from '../lib/app.js';

// Region and account come from the CLI's environment at deploy time; synth needs neither.
buildApp().app.synth();
