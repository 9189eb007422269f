import { fileURLToPath } from 'node:url';

/** Where the seed definitions file is (what every command runs without `--definitions`); nothing parsed here. */
export const seedDefinitionsPath = fileURLToPath(new URL('./seed.definitions.json', import.meta.url));
