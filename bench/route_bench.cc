// Placeholder (issue 4): being written.
int main() { return 0; }
