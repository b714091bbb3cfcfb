/** Seeded simulation of the DSM's failure model, part 3 of 3 (test/support/sim-suite.ts explains). */
import { simSuite } from './support/sim-suite.js';

simSuite(201, 100);
