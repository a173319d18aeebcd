from qunping.cli import main

main()
