from clvmodels.cli import main

main()
