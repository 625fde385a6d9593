// Ink imports react-devtools-core only when DEV=true; the package is not installed and must not be
// bundled (docs/packaging.md, "Dependency facts" 3). The build aliases it here.
export default {
  initialize(): void {},
  connectToDevTools(): void {},
};
