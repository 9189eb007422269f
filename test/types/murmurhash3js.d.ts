declare module 'murmurhash3js' {
  const murmur: { x86: { hash32(text: string, seed?: number): number; hash128(text: string, seed?: number): string } };
  export default murmur;
}
