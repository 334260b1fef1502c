/* bench/libvirt: placeholder while written */
int main(void);
int main(void) { return 1; }
