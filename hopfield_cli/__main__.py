from hopfield_cli.cli import main

main()
